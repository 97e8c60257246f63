"""Domain logic: plain functions over a SQLAlchemy session and an explicit ``Actor``.

Every state change in Waybill goes through here and leaves an order event, a stock
movement or an audit row. One transaction per public call (``core.transaction``).

One package per domain, in layers; a package imports only from the layers below it
(tests/services/test_layers.py checks it):

    core                                  the kernel: transactions, errors, validation, ...
    inventory                             stock, products, warehouses
    orders                                orders, their holds, edits, queries, search
    lifecycle                             pipeline, rules, risk, allocation
    channels, fulfilment, returns         what comes in from and goes out to the world
    (notify, reporting)                   customers and staff told; KPIs

A lower package sets off a higher one by a domain event (``core.domain_events``), which the
higher one subscribes to at app start. ``demo`` seeds every domain and sits above them all.
Views, API, jobs and the CLI import the modules each package's ``__all__`` names.
"""
