import redis

from mininas_web.redis_server import RedisServer, find_redis_server


def test_it_finds_a_redis_binary():
    assert find_redis_server()


def test_it_starts_and_stops_a_private_redis(tmp_path):
    server = RedisServer(url="", data_dir=str(tmp_path / "redis"))
    url = server.start()
    client = redis.Redis.from_url(url)
    assert client.ping()
    process = server.process
    server.stop()
    assert process.poll() is not None
    assert server.process is None


def test_it_uses_redis_url_when_given(redis_url):
    server = RedisServer(url=redis_url)
    assert server.start() == redis_url
    assert server.process is None
    server.stop()
