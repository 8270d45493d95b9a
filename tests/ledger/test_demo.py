"""Demo data: accounts with a deposit, idempotent."""

from __future__ import annotations

from config.demo.ledger import DEPOSIT, demo_load
from ledger.models import Account, Transfer


def test_demo_load_creates_funded_accounts_and_is_idempotent(admin_user_):
    summary = demo_load(admin=admin_user_)
    assert "root-checking" in summary
    demo_load(admin=admin_user_)
    assert dict(Account.objects.values_list("name", "balance")) == {
        "bank": -2 * DEPOSIT,
        "root-checking": DEPOSIT,
        "root-savings": DEPOSIT,
    }
    assert Transfer.objects.count() == 2
    assert set(Account.objects.exclude(name="bank").values_list("owner", flat=True)) == {admin_user_.pk}
