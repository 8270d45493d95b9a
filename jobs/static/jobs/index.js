// The jobs page: the runs filter applies as soon as a status is chosen (a script file: the CSP allows no inline handlers).
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
