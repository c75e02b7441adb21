# How the plugin reaches the sidecar: address, bearer token and transport security, from the T3.plugin section of
# Orthanc's configuration and the environment (which wins), and the gRPC channel built from them.
#
#   "plugin": {
#     "sidecarAddress": "sidecar:50051",
#     "token": null, "tokenFile": "/etc/orthanc/t3-plugin-token",      # the token file keeps it out of orthanc.json
#     "deadlineSeconds": 5,
#     "tls": { "caFile": "ca.pem", "certFile": "plugin.pem", "keyFile": "plugin.key", "serverName": null }
#   }
# Environment: T3_PLUGIN_SIDECAR_ADDRESS, T3_PLUGIN_TOKEN, T3_PLUGIN_TOKEN_FILE, T3_PLUGIN_TLS_CA_FILE,
# T3_PLUGIN_TLS_CERT_FILE, T3_PLUGIN_TLS_KEY_FILE, T3_PLUGIN_TLS_SERVER_NAME. Relative paths are taken against the
# plugin's folder. Without TLS the plugin talks plaintext to a loopback address only: a token sent in clear across a
# network could be read there.

import json
import ipaddress
import os


class SettingsError(ValueError):
    """A plugin setting that cannot be used; the message names it. Routes answer 503 with it."""


def _path(value, base_dir):
    return value if not value or os.path.isabs(value) else os.path.join(base_dir, value)


def _read(path, name, mode='rb'):
    try:
        with open(path, mode) as handle:
            return handle.read()
    except OSError as error:
        raise SettingsError('%s: cannot read "%s" (%s)' % (name, path, error.strerror or error))


def client_token(text):
    """The token to send from a token file in the one format the sidecar reads too (docs/ADMIN.md "Token files"):
    JSON {"tokens": [{"token": ..., "roles": [...]}, ...]} or lines "TOKEN role+role" ('#' comments); a file of a
    bare token line is the same as a line without roles. The first entry is the plugin's."""
    stripped = text.strip()
    if stripped.startswith('{') or stripped.startswith('['):
        try:
            parsed = json.loads(stripped)
        except ValueError as error:
            raise SettingsError('T3.plugin.tokenFile: not valid JSON (%s)' % error)
        entries = parsed if isinstance(parsed, list) else (parsed or {}).get('tokens')
        token = entries[0].get('token') if isinstance(entries, list) and entries and isinstance(entries[0], dict) else None
        if not isinstance(token, str) or not token:
            raise SettingsError('T3.plugin.tokenFile: holds no token')
        return token
    for line in stripped.splitlines():
        line = line.strip()
        if line and not line.startswith('#'):
            return line.split()[0]
    return None


def is_loopback_address(address):
    host = address.rsplit(':', 1)[0].strip('[]')
    if host.lower() in ('localhost', 'ip6-localhost'):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SidecarSettings(object):
    def __init__(self, section, environ, base_dir):
        section = section if isinstance(section, dict) else {}
        tls = section.get('tls') if isinstance(section.get('tls'), dict) else {}
        self.address = environ.get('T3_PLUGIN_SIDECAR_ADDRESS') or section.get('sidecarAddress') or '127.0.0.1:50051'
        try:
            self.deadline_s = float(section.get('deadlineSeconds', 5))
        except (TypeError, ValueError):
            self.deadline_s = 5.0
        self.token = environ.get('T3_PLUGIN_TOKEN') or section.get('token') or None
        self.token_file = _path(environ.get('T3_PLUGIN_TOKEN_FILE') or section.get('tokenFile'), base_dir)
        self.ca_file = _path(environ.get('T3_PLUGIN_TLS_CA_FILE') or tls.get('caFile'), base_dir)
        self.cert_file = _path(environ.get('T3_PLUGIN_TLS_CERT_FILE') or tls.get('certFile'), base_dir)
        self.key_file = _path(environ.get('T3_PLUGIN_TLS_KEY_FILE') or tls.get('keyFile'), base_dir)
        self.server_name = environ.get('T3_PLUGIN_TLS_SERVER_NAME') or tls.get('serverName') or None

    @property
    def uses_tls(self):
        return bool(self.ca_file or self.cert_file)

    def describe(self):
        """For Orthanc's log: where and how, never the token."""
        mode = 'plaintext'
        if self.uses_tls:
            mode = 'mTLS' if self.cert_file else 'TLS'
        return '%s (%s, token %s)' % (self.address, mode, 'set' if (self.token or self.token_file) else 'not set')

    def bearer_token(self):
        """The token, read from tokenFile on every call so that a rotated file applies without restarting Orthanc."""
        if self.token_file:
            return client_token(_read(self.token_file, 'T3.plugin.tokenFile', 'r'))
        return self.token

    def open_channel(self, grpc):
        """A new channel to the sidecar; SettingsError when the settings are unusable."""
        if not self.uses_tls:
            if not is_loopback_address(self.address):
                raise SettingsError('T3.plugin.tls: the sidecar at %s is not on this machine; configure tls.caFile (and '
                                    'certFile/keyFile for mutual TLS): the plugin does not send its token in plaintext '
                                    'across a network' % self.address)
            return grpc.insecure_channel(self.address)
        if bool(self.cert_file) != bool(self.key_file):
            raise SettingsError('T3.plugin.tls: certFile and keyFile go together')
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca_file, 'T3.plugin.tls.caFile') if self.ca_file else None,
            private_key=_read(self.key_file, 'T3.plugin.tls.keyFile') if self.key_file else None,
            certificate_chain=_read(self.cert_file, 'T3.plugin.tls.certFile') if self.cert_file else None,
        )
        options = [('grpc.ssl_target_name_override', self.server_name)] if self.server_name else []
        return grpc.secure_channel(self.address, credentials, options=options)
