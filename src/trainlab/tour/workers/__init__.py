"""The tour's worker processes: lanes that run sections side by side, and a worker that draws reports.

``python -m trainlab.tour.workers lane|render ...`` starts one (see ``__main__.py``).
"""
