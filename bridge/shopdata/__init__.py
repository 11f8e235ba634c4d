"""Shop data: products, orders and coupons the shop's own systems send (DESIGN.md, Shop data API),
checked (rows.py), kept (keep.py), searched (terms.py, read.py) and turned into cards (cards.py)."""
