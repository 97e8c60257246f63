"""Every model, one module per domain. Importing this registers all tables on FAB's
``Model.metadata`` (which Alembic's env.py and the app factory rely on)."""
from .alerts import Alert, AlertChannel  # noqa: F401
from .catalog import Listing, Product, SkuAlias, normalize_sku  # noqa: F401
from .fulfillment import (  # noqa: F401
    CarrierAccount, DeliveryException, PickList, PickListLine, Shipment, ShipmentLabel, ShipmentLine, ShipmentPackage,
    TrackingEvent,
)
from .inventory import StockLevel, StockMovement, Warehouse  # noqa: F401
from .notifications import OutboxMessage  # noqa: F401
from .mail import (  # noqa: F401
    AlertMailRecipients, ChannelMailSettings, MailOptOut, MailTemplate, Notification,
)
from .orders import (  # noqa: F401
    Allocation, Customer, Order, OrderEvent, OrderHold, OrderLine,
)
from .returns import Refund, Return, ReturnLine, ReturnReason  # noqa: F401
from .routing import AllocationDecision  # noqa: F401
from .rules import Rule, RuleVersion  # noqa: F401
from .shipping import (  # noqa: F401
    BoxPreset, Manifest, ShippingMethodMap, ShippingRule, WarehouseCarrier,
)
from .security import LoginAttempt, LoginSession  # noqa: F401
from .settings import AuditLog, ExchangeRate, Setting  # noqa: F401
from .sync import Channel, ChannelCursor, JobLock, SyncConflict, SyncRun  # noqa: F401
from .webhooks import WebhookDelivery, WebhookSubscription  # noqa: F401
from .writeback import ChannelPush  # noqa: F401
