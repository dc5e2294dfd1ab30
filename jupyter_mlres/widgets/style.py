"""The panel's stylesheet: JupyterLab theme variables only, so light and dark themes both work."""

from __future__ import annotations

__all__ = ["STYLE"]

STYLE = """<style>
.mlres-panel { font-size: var(--jp-ui-font-size1); color: var(--jp-ui-font-color1); gap: 4px; }
.mlres-panel .mlres-title { font-size: var(--jp-ui-font-size2); }
.mlres-panel .mlres-form { flex: 1 1 34em; min-width: 30em; }
.mlres-panel .mlres-preview-col { flex: 1 1 28em; min-width: 24em; }
.mlres-panel .mlres-section {
  border: var(--jp-border-width) solid var(--jp-border-color2);
  border-radius: 4px; padding: 2px 6px 4px 6px; margin: 0 6px 6px 0;
}
.mlres-panel .mlres-section-title { color: var(--jp-ui-font-color2); }
.mlres-panel .mlres-explain, .mlres-panel .mlres-default {
  color: var(--jp-ui-font-color2); font-size: var(--jp-ui-font-size0);
}
.mlres-panel .mlres-default { font-style: italic; margin-left: 0.5em; }
.mlres-panel .mlres-error { color: var(--jp-error-color1); font-size: var(--jp-ui-font-size0); }
.mlres-panel .mlres-banner {
  color: var(--jp-error-color1); border-left: 3px solid var(--jp-error-color1);
  background: var(--jp-layout-color2); padding: 2px 6px;
}
.mlres-panel pre.mlres-preview {
  font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size);
  line-height: var(--jp-code-line-height); color: var(--jp-content-font-color1);
  background: var(--jp-layout-color2); border: var(--jp-border-width) solid var(--jp-border-color2);
  margin: 2px 0; padding: 4px 6px; max-height: 32em; overflow: auto; white-space: pre;
}
.mlres-panel .mlres-line { display: block; border-left: 3px solid transparent; padding-left: 3px; }
.mlres-panel .mlres-changed {
  border-left-color: var(--jp-warn-color1);
  background: color-mix(in srgb, var(--jp-warn-color1) 18%, transparent);
}
.mlres-panel .mlres-comment { color: var(--jp-mirror-editor-comment-color, var(--jp-ui-font-color2)); }
.mlres-panel .mlres-magic input { font-family: var(--jp-code-font-family); }
</style>"""
