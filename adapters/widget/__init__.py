"""The shop-page chat widget: the visitor's identity, its live feed, and the adapter that pushes
replies into it. The widget's HTTP face is bridge/web/widget (it is a web page's API, not a webhook)."""
