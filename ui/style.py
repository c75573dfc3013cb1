"""The page's stylesheet (tables, cards, heatmaps, banners), passed to ``gr.Blocks``."""

CSS = """
.vm-heatmap table { border-collapse: collapse; font-size: 13px; }
.vm-heatmap th, .vm-heatmap td { padding: 4px 8px; border: 1px solid #fff; text-align: right;
  white-space: nowrap; }
.vm-heatmap th[scope=row] { text-align: left; font-weight: 600; }
.vm-heatmap caption { caption-side: bottom; text-align: left; color: #666; font-size: 12px;
  padding-top: 4px; }
.vm-na { color: #aaa; }
.vm-table table { border-collapse: collapse; width: 100%; font-size: 13px; }
.vm-table th { text-align: left; position: sticky; top: 0; border-bottom: 2px solid #ddd;
  background: var(--block-background-fill, #fff); padding: 6px 8px; }
.vm-table td { border-bottom: 1px solid #eee; padding: 5px 8px; vertical-align: top; }
#vm-results td:last-child { min-width: 340px; }
.vm-table tbody tr:hover { background: rgba(242, 142, 43, 0.08); }
.vm-scroll { overflow: auto; }
.vm-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr));
  gap: 12px; }
.vm-card { border: 1px solid #ddd; border-left: 6px solid var(--vm-c, #888);
  border-radius: 8px; padding: 10px 14px; background: #fff; color: #1f2328; }
.vm-card h3 { margin: 0 0 4px 0; font-size: 17px; }
.vm-card .vm-meta { color: #555; font-size: 13px; margin-bottom: 6px; }
.vm-card ul { margin: 4px 0 0 18px; padding: 0; font-size: 13px; }
.vm-card .vm-sig { font-style: italic; margin: 4px 0; }
.vm-grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
  gap: 10px 18px; }
.vm-grid2 > div { background: #fff; border: 1px solid #e5e5e5; border-radius: 8px; padding: 6px; }
.vm-banner { background: #fff4d6; border: 1px solid #e8b73a; color: #5c4400; border-radius: 6px;
  padding: 6px 12px; font-weight: 600; }
.vm-source { background: #e8f4ea; border: 1px solid #59a14f; color: #1d4d1a;
  border-radius: 6px; padding: 6px 12px; font-weight: 600; }
.vm-source a { color: #1d4d1a; font-weight: 400; }
.vm-error { background: #fde8e6; border: 1px solid #d9534f; color: #7a1f1b; border-radius: 6px;
  padding: 6px 12px; }
"""
