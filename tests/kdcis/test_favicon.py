"""Browsers ask every site for /favicon.ico; it must not be a 404 in every log line."""


def test_the_favicon_is_served_at_the_root(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_pages_name_their_icon(client, db):
    assert 'rel="icon"' in client.get("/").content.decode()
