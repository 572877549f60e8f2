"""Debian's nginx running the shipped site (deploy/nginx/booking.conf) on loopback ports.

The site is the production file. For a test it is rendered by exact replacements of its
machine-specific lines only: the listen ports, the upstream's address, the cache directory and
the certificate paths (every one must be found exactly once, so the test notices when the site
changes). It is then included in a minimal nginx.conf whose pid, logs and temporary files live in
the test's directory.
"""

import contextlib
import datetime
import ipaddress
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from requests.adapters import HTTPAdapter

NGINX = Path("/usr/sbin/nginx")
SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "booking.conf"

MAIN_CONF = """\
{user}daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{
    worker_connections 512;
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/booking.conf;
}}
"""


def render_site(text, replacements):
    """``text`` with each key of ``replacements`` replaced; each must occur exactly once."""
    for old, new in replacements.items():
        count = text.count(old)
        if count != 1:
            raise AssertionError(f"{SITE.name}: {old!r} found {count} times, expected once")
        text = text.replace(old, new)
    return text


def self_signed_certificate(directory):
    """A certificate for 127.0.0.1 and its key, written to ``directory``: (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Nginx:
    """nginx in the foreground with the rendered site: HTTPS on ``https_port``, the redirecting
    plain-HTTP server on ``http_port``, in front of ``upstream`` ("127.0.0.1:port")."""

    def __init__(self, directory, https_port, http_port, upstream):
        self.dir = Path(directory)
        self.https_port, self.http_port = https_port, http_port
        self.url = f"https://127.0.0.1:{https_port}"
        self.http_url = f"http://127.0.0.1:{http_port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cert, key = self_signed_certificate(self.dir)
        site = render_site(
            SITE.read_text(),
            {
                "    listen 80;\n": f"    listen 127.0.0.1:{http_port};\n",
                "    listen [::]:80;\n": "",
                "    listen 443 ssl http2 backlog=4096;\n": (
                    f"    listen 127.0.0.1:{https_port} ssl http2;\n"
                ),
                "    listen [::]:443 ssl http2 backlog=4096;\n": "",
                "server 127.0.0.1:8000;": f"server {upstream};",
                "proxy_cache_path /var/cache/nginx/booking ": f"proxy_cache_path {self.dir}/cache ",
                "/etc/booking/tls/fullchain.pem;": f"{self.cert};",
                "/etc/booking/tls/privkey.pem;": f"{key};",
            },
        )
        (self.dir / "booking.conf").write_text(site)
        # A root master hands its workers to "nobody", who cannot enter pytest's directories.
        user = "user root;\n" if os.geteuid() == 0 else ""
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(MAIN_CONF.format(user=user, dir=self.dir))
        self.process = None

    def _command(self, *extra):
        return [str(NGINX), "-c", str(self.conf), "-p", str(self.dir), "-e", self.error_log, *extra]

    @property
    def error_log(self):
        return str(self.dir / "error.log")

    def check(self):
        """``nginx -t``: raise with nginx's words if it refuses the configuration."""
        result = subprocess.run(
            self._command("-t"), capture_output=True, text=True, timeout=30, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"nginx -t refused the site:\n{result.stderr}")

    def start(self, timeout=10.0):
        """Start nginx and return once both ports accept connections."""
        self.check()
        self.process = subprocess.Popen(
            self._command(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        for port in (self.https_port, self.http_port):
            while not _accepts(port):
                if self.process.poll() is not None:
                    raise RuntimeError(f"nginx exited ({self.process.returncode}):\n{self.log()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nginx not listening after {timeout:.0f} s:\n{self.log()}")
                time.sleep(0.05)
        return self

    def log(self):
        with contextlib.suppress(OSError):
            return Path(self.error_log).read_text(errors="replace")[-3000:]
        return ""

    def stop(self):
        """Stop gracefully (SIGQUIT), then kill the process group if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def _accepts(port):
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class FromAddress(HTTPAdapter):
    """Connections from a given local address: a second loopback address (127.0.0.2) plays a
    phone on the internet, so that the client nginx sees differs from nginx's own address."""

    def __init__(self, address, **kwargs):
        self.address = address
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)
