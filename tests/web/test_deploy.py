"""docker-compose.yml, deploy/nginx.conf and the Dockerfile: what can be checked without Docker."""

import ipaddress
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from mininas_web import server

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def nginx_bytes(size: str) -> int:
    units = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", size.lower()).groups()
    return int(number) * units[unit]


def test_only_nginx_is_published(compose):
    services = compose["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"nginx"}
    assert services["nginx"]["ports"] == ["${PORT:-8000}:80"]
    mount = "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro"
    assert mount in services["nginx"]["volumes"]


def test_web_runs_uvicorn_behind_nginx(compose):
    web = compose["services"]["web"]
    assert "python -m mininas_web.server --host 0.0.0.0 --port 8000" in web["command"]
    assert web["environment"]["DEBUG"] == "0"
    assert compose["services"]["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["python", "-m", "mininas_web.server"' in dockerfile
    assert "daphne" not in dockerfile + (ROOT / "docker-compose.yml").read_text()


def test_the_worker_scales(compose):
    """`docker compose up --scale worker=N`: nothing in the worker service is one-of-a-kind."""
    worker = compose["services"]["worker"]
    assert not {"container_name", "ports", "hostname"} & set(worker)
    assert worker["command"].startswith("python manage.py rqworker gpu")
    assert compose["x-app"]["environment"]["REDIS_URL"] == worker["environment"]["REDIS_URL"]
    assert "media:/data/media" in worker["volumes"]  # candidates' weights reach the web server


def test_nginx_body_limits_match_the_settings():
    conf = NGINX_CONF.read_text()
    server_level = re.search(r"^    client_max_body_size (\w+);", conf, re.M).group(1)
    # the upload location's block: up to its closing brace at the location's indent
    uploads = re.search(
        r"location ~ \^/api/\(datasets\|uploads.*?\{(.*?)\n    \}", conf, re.S
    ).group(1)
    upload_size = re.search(r"client_max_body_size (\w+);", uploads).group(1)
    assert nginx_bytes(server_level) == settings.REQUEST_MAX_BYTES
    assert nginx_bytes(upload_size) == settings.UPLOAD_MAX_REQUEST_BYTES
    assert "proxy_request_buffering off;" in uploads
    assert "if ($upload_credentials = 0)" in uploads  # anonymous uploads: 401, body not read


def test_nginx_limits_rates_and_connections_and_upgrades_sockets():
    conf = NGINX_CONF.read_text()
    for directive in ("limit_req_zone", "limit_conn_zone", "limit_req zone=", "limit_conn "):
        assert directive in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $connection_upgrade;" in conf
    assert "location /ws/" in conf


def nginx_seconds(conf: str, directive: str) -> int:
    (value,) = re.findall(rf"^    {directive} (\d+)s;", conf, re.M)
    return int(value)


def test_nginx_times_out_slow_clients_before_the_web_server_does():
    conf = NGINX_CONF.read_text()
    header = nginx_seconds(conf, "client_header_timeout")
    body = nginx_seconds(conf, "client_body_timeout")
    assert 5 <= header <= server.HEADER_TIMEOUT <= 20
    assert 10 <= body <= server.BODY_TIMEOUT <= 60
    assert 10 <= nginx_seconds(conf, "send_timeout") <= 60
    assert 5 <= nginx_seconds(conf, "keepalive_timeout") <= 30
    assert "    reset_timedout_connection on;" in conf
    per_address = int(re.search(r"^    limit_conn mininas_conn (\d+);", conf, re.M).group(1))
    assert 10 <= per_address <= 100  # a browser's connections and sockets, not a flood's
    assert "proxy_read_timeout 3600s;" in conf.split("location /ws/")[1]  # sockets last


@pytest.mark.skipif(
    not shutil.which("nginx"), reason="nginx is not installed (apt-get install nginx)"
)
def test_nginx_accepts_the_config(tmp_path):
    wrapper = tmp_path / "nginx.conf"
    wrapper.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n    include {NGINX_CONF};\n}}\n"
    )
    out = subprocess.run(
        ["nginx", "-t", "-c", str(wrapper), "-p", str(tmp_path)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


def test_the_forwarded_address_is_the_clients_and_trusted_from_nginx_only(compose):
    conf = NGINX_CONF.read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf  # replaced, not appended
    assert "$proxy_add_x_forwarded_for" not in conf
    nginx_address = compose["services"]["nginx"]["networks"]["default"]["ipv4_address"]
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert compose["x-app"]["environment"]["FORWARDED_ALLOW_IPS"] == nginx_address
    assert ipaddress.ip_address(nginx_address) in ipaddress.ip_network(subnet)


def test_compose_refuses_to_start_without_a_secret_key(compose):
    secret = compose["x-app"]["environment"]["SECRET_KEY"]
    assert re.fullmatch(r"\$\{SECRET_KEY:\?.+\}", secret), secret  # no public fallback
