"""The boards admin: records with their current value and version; deleting drops the value too."""

from boards.models import Board
from boards.services import board_key, board_notify
from switchboard.connections import redis_sync


def test_changelist_shows_value_and_version(client, admin_user_, board, board_name):
    Board.objects.create(name="t-empty-" + board_name[2:])
    client.force_login(admin_user_)
    html = client.get("/admin/boards/board/").content.decode()
    assert board in html
    assert "{&quot;percent&quot;:10,&quot;message&quot;:&quot;start&quot;}" in html
    assert "(no value yet)" in html


def test_change_page_shows_value_read_only_and_escaped(client, admin_user_, board):
    board_notify(name=board, value="<script>x</script>")
    client.force_login(admin_user_)
    html = client.get(f"/admin/boards/board/{Board.objects.get(name=board).pk}/change/").content.decode()
    assert "&quot;&lt;script&gt;x&lt;/script&gt;&quot;" in html
    assert "<script>x</script>" not in html


def test_add_page_renders(client, admin_user_):
    client.force_login(admin_user_)
    assert client.get("/admin/boards/board/add/").status_code == 200


def test_deleting_in_the_admin_drops_the_value(client, admin_user_, board):
    client.force_login(admin_user_)
    pk = Board.objects.get(name=board).pk
    response = client.post(f"/admin/boards/board/{pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Board.objects.filter(pk=pk).exists()
    assert not redis_sync().exists(board_key(board))


def test_bulk_delete_action_drops_values(client, admin_user_, board, board_name):
    other = "t-other-" + board_name[2:]
    board_notify(name=other, value=1)
    client.force_login(admin_user_)
    pks = list(Board.objects.filter(name__in=[board, other]).values_list("pk", flat=True))
    response = client.post(
        "/admin/boards/board/", {"action": "delete_selected", "_selected_action": pks, "post": "yes"}
    )
    assert response.status_code == 302
    assert not redis_sync().exists(board_key(board)) and not redis_sync().exists(board_key(other))
