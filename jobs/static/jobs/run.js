// Live progress for a job run: poll the run's JSON (which reads the progress the job keeps in
// job.meta and publishes on its board) until the run ends. No build step, no dependencies.
(function () {
  "use strict";
  var node = document.getElementById("run-data");
  if (!node) return;
  var run = JSON.parse(node.textContent);
  var $ = function (id) { return document.getElementById(id); };

  function show(data) {
    var status = $("run-status");
    status.textContent = data.status;
    status.className = "badge badge-" + data.status;
    var p = data.progress;
    var percent = data.status === "finished" ? 100 : (p ? p.percent : 0);
    $("run-bar").value = percent;
    $("run-bar").textContent = percent + "%";
    $("run-bar").setAttribute("aria-valuenow", String(percent));
    $("run-progress").textContent = p ? p.current + "/" + p.total + " " + (p.message || "") : "";
    $("run-attempts").textContent = String(data.attempts);
    $("run-worker").textContent = data.worker || "—";
    $("run-result").textContent = data.result || "";
    $("run-error").textContent = data.error || "";
    $("run-traceback").textContent = data.traceback || "";
    $("run-started").textContent = data.started_at || "—";
    $("run-ended").textContent = data.ended_at || "—";
  }

  function poll(delay) {
    if (run.terminal) return;
    window.setTimeout(function () {
      fetch(run.json_url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then(function (data) {
          var changed = data.actions.join() !== run.actions.join();
          run = data;
          show(data);
          if (changed || data.terminal) window.location.reload();  // refresh the action buttons
          else poll(700);
        })
        .catch(function () { poll(Math.min(delay * 2, 10000)); });
    }, delay);
  }
  poll(700);
})();
