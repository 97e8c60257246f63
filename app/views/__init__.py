"""Every HTML view, registered in menu order (Superset's explicit registration).

Each view's ``class_permission_name`` is a resource of app/security/permissions.py and its
``method_permission_name`` maps every exposed method to an action of that resource; role
sync grants ``menu_access`` for the menu items of the resources a role holds.
"""
from __future__ import annotations

from flask import current_app


def register_views(appbuilder) -> None:
    from .alerts import AlertChannelView, AlertView
    from .carriers import CarrierAccountView, DeliveryExceptionView, ShipmentLabelView
    from .shipping import BoxPresetView, ManifestView, ShippingRuleView
    from .webhooks import WebhookSubscriptionView
    from .catalog import ProductView, SkuAliasView
    from .customers import CustomerView
    from .dashboard import DashboardView
    from .floor import FloorView
    from .formatting import register_filters
    from .fulfillment import PickListView, ShipmentView
    from .inventory import StockLevelView, StockMovementView, WarehouseView
    from .mail import MailLogView, MailTemplateView
    from .orders import OrderView
    from .outbox import OutboxView
    from .returns import RefundApprovalView, RefundView, ReturnQueueView, ReturnReasonView, ReturnStationView, ReturnView
    from .rules import ReviewQueueView, RuleView
    from .search import SearchView
    from .security import ApiKeyView
    from .settings import AuditLogView, ExchangeRateView, SettingsView
    from .listings import ListingView
    from .sync import ChannelView, SyncConflictView, SyncRunView

    register_filters(current_app)

    add = appbuilder.add_view
    add(OrderView, "Orders", icon="fa-shopping-cart", category="Orders",
        category_icon="fa-shopping-cart")
    add(ReviewQueueView, "Review queue", icon="fa-user-secret", category="Orders")
    add(CustomerView, "Customers", icon="fa-users", category="Customers",
        category_icon="fa-users")
    add(ShipmentView, "Shipments", icon="fa-truck", category="Fulfillment",
        category_icon="fa-truck")
    add(FloorView, "Warehouse floor", icon="fa-barcode", category="Fulfillment")
    add(PickListView, "Pick lists", icon="fa-list-ol", category="Fulfillment")
    add(DeliveryExceptionView, "Delivery exceptions", icon="fa-exclamation-triangle", category="Fulfillment")
    add(CarrierAccountView, "Carrier accounts", icon="fa-plane", category="Fulfillment")
    add(ShippingRuleView, "Shipping rules", icon="fa-random", category="Fulfillment")
    add(BoxPresetView, "Box presets", icon="fa-cube", category="Fulfillment")
    add(ManifestView, "Manifests", icon="fa-list-alt", category="Fulfillment")
    appbuilder.add_view_no_menu(ShipmentLabelView)
    add(ReturnView, "Returns", icon="fa-undo", category="Returns", category_icon="fa-undo")
    add(RefundView, "Refunds", icon="fa-money", category="Returns")
    add(RefundApprovalView, "Refunds to approve", icon="fa-check-square-o", category="Returns")
    add(ReturnQueueView, "Returns by reason and age", icon="fa-filter", category="Returns")
    add(ReturnStationView, "Receive returns", icon="fa-inbox", category="Returns")
    add(ReturnReasonView, "Return reasons", icon="fa-list", category="Returns")
    add(StockLevelView, "Stock levels", icon="fa-cubes", category="Inventory",
        category_icon="fa-cubes")
    add(StockMovementView, "Stock movements", icon="fa-exchange", category="Inventory")
    add(WarehouseView, "Warehouses", icon="fa-building", category="Inventory")
    add(ProductView, "Products", icon="fa-tag", category="Catalog", category_icon="fa-tags")
    add(SkuAliasView, "SKU aliases", icon="fa-link", category="Catalog")
    add(ChannelView, "Channels", icon="fa-plug", category="Channels & Sync",
        category_icon="fa-plug")
    add(SyncRunView, "Sync runs", icon="fa-refresh", category="Channels & Sync")
    add(ListingView, "Listings", icon="fa-tags", category="Channels & Sync")
    add(SyncConflictView, "Sync conflicts", icon="fa-exclamation-triangle",
        category="Channels & Sync")
    add(OutboxView, "Outbox", icon="fa-paper-plane", category="Channels & Sync")
    add(AlertView, "Alerts", icon="fa-bell", category="Channels & Sync")
    add(MailLogView, "Mail log", icon="fa-envelope", category="Customers")
    # Not named "Settings" like its category: menu_access goes by name, and everyone who
    # reads rules sees the category, not the settings page.
    add(SettingsView, "General settings", icon="fa-cogs", category="Settings",
        category_icon="fa-cogs")
    add(ExchangeRateView, "Exchange rates", icon="fa-eur", category="Settings")
    add(RuleView, "Rules", icon="fa-filter", category="Settings")
    add(AuditLogView, "Audit log", icon="fa-history", category="Settings")
    add(AlertChannelView, "Alert channels", icon="fa-slack", category="Settings")
    add(MailTemplateView, "Customer mails", icon="fa-envelope-o", category="Settings")
    add(WebhookSubscriptionView, "Webhooks", icon="fa-share-square-o", category="Settings")

    # Next to FAB's users and roles (its "Security" menu, added by the security manager).
    add(ApiKeyView, "API keys", icon="fa-key", category="Security")

    appbuilder.add_view_no_menu(SearchView)
    appbuilder.add_view_no_menu(DashboardView)
