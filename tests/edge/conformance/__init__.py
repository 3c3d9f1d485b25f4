"""The conformance scenarios: the same gateway scenarios against every OPC UA server we support.

How a scenario joins:

- a module ``test_<feature>.py`` here sets
  ``pytestmark = pytest.mark.parametrize("server", ["node-opcua", "firmware-sim"], indirect=True)``
  with the :data:`servers.SERVERS` names that have the feature, and takes the module-scoped
  fixtures of ``conftest.py``: ``server`` (started once per module), ``observer`` (the
  coordinator's MQTT view) and ``gateway`` (a real ``glonet edge`` process on the server's
  machine); ``gateway_settings`` may be redefined in the module to override the configuration;
- everything server-specific is read from the ``server`` object (its mapping, and how to make
  the machine do something: ``set_metric``, ``raise_alarm``…), declared by a Protocol in
  :mod:`servers`; a server joins a feature by implementing its methods and being listed.

The third-party server is ``tests/opcua_server`` (node-opcua, the official NodeSets, its own
namespace), whose contract ``test_third_party_server.py`` checks with a plain asyncua client.
"""
