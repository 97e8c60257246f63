"""Every REST API, registered in one place (Superset's explicit registration).

Each API's ``class_permission_name`` is a resource of app/security/permissions.py and its
``method_permission_name`` maps every exposed method, the action endpoints included, to an
action of the role matrix (app/security/roles.py)."""
from __future__ import annotations

from flask import current_app

from . import errors, openapi, webhook_data
from .carriers import CarrierAccountApi, DeliveryExceptionApi
from .catalog import ProductApi, SkuAliasApi
from .channels import ChannelApi
from .customers import CustomerApi
from .fulfillment import ShipmentApi
from .inventory import StockLevelApi, StockMovementApi
from .notifications import NotificationApi
from .orders import OrderApi
from .outbox import OutboxApi
from .picking import PackApi, PickListApi
from .refunds import RefundApi
from .returns import ReturnApi
from .rules import RuleApi
from .search import SearchApi
from .settings import SettingApi
from .sync import SyncConflictApi, SyncRunApi
from .warehouses import WarehouseApi
from .webhooks import WebhookSubscriptionApi

APIS = (
    OrderApi, CustomerApi, SearchApi, StockLevelApi, StockMovementApi, ShipmentApi,
    ReturnApi, ProductApi, SkuAliasApi, WarehouseApi, ChannelApi, SyncConflictApi,
    SyncRunApi, OutboxApi, RuleApi, SettingApi, WebhookSubscriptionApi, CarrierAccountApi,
    DeliveryExceptionApi, NotificationApi, PickListApi, PackApi, RefundApi,
)


def register_apis(appbuilder) -> None:
    for api in APIS:
        appbuilder.add_api(api)
    webhook_data.register()  # outbound webhooks show objects as this API does
    app = current_app._get_current_object()
    errors.install(app, appbuilder)
    openapi.install(app)
