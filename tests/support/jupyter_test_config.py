# Jupyter config for the test servers (tests/server, tests/browser): the mlres API plus a scripted
# backend. MLRES_TEST_BACKENDS picks the backends the sidebar lists (default: fake, broken).
import os

c = get_config()  # type: ignore[name-defined]  # noqa: F821
c.ServerApp.jpserver_extensions = {"jupyter_mlres": True, "mlres_fake_ext": True}
c.MlresServer.backends = os.environ.get("MLRES_TEST_BACKENDS", "fake,broken").split(",")
c.MlresServer.follow_max_seconds = 30.0
c.ServerApp.open_browser = False
c.LabApp.news_url = None
# Lets browser tests wait for `jupyterapp.restored` instead of racing the layout restorer.
c.LabApp.expose_app_in_browser = True
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
