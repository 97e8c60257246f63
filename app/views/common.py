"""Cells shared by several lists (links to orders and products, warehouse codes)."""
from __future__ import annotations

from flask import url_for
from markupsafe import Markup

from .formatting import DASH


def order_cell(row) -> Markup:
    order = getattr(row, "order", None)
    if order is None:
        return DASH
    return Markup('<a href="{}">{}</a>').format(url_for("OrderView.show", pk=order.id),
                                                order.order_number)


def code_cell(attribute: str):
    def cell(row) -> Markup:
        target = getattr(row, attribute, None)
        if target is None:
            return DASH
        return Markup('<span class="label label-default">{}</span>').format(target.code)
    return cell


def product_cell(row) -> Markup:
    product = getattr(row, "product", None)
    if product is None:
        return DASH
    return Markup('<code>{}</code> <small class="text-muted">{}</small>').format(
        product.sku, product.name)
