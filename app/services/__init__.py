"""Domain logic: plain functions over a SQLAlchemy session and an explicit ``Actor``.

Every state change in Waybill goes through here and leaves an order event, a stock
movement or an audit row. One transaction per public call (``transaction.transactional``).
"""
