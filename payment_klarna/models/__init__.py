from . import (
    ir_asset,
    ir_http,
    payment_klarna_event,
    payment_klarna_operation,
    payment_klarna_session,
    payment_klarna_signing_key,
    payment_provider,
    payment_transaction,
    sale_order,
)
