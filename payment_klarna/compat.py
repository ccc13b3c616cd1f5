"""What differs between the Odoo series this addon runs on, 18.0 and 19.0, in one place.

The rest is written once. The transaction model implements both series' payment hooks,
each delegating to one shared method (``_klarna_find_tx``, ``_klarna_apply_notification``,
``_klarna_capture``, ``_klarna_void``, ``_klarna_refund``); the functions below are the
series' entry points for code that starts such a flow itself (a job, a route, a
delivery, a test), so it runs through Odoo's own hooks on either series.
"""

from odoo import models, release

SERIES = release.version_info[0]

#: The JSON-RPC route type: Odoo 19 renamed it ("json" remains a deprecated alias there).
JSON_ROUTE = "jsonrpc" if SERIES >= 19 else "json"

#: Fields Odoo 19 renamed: ``sale.order.line``'s unit and taxes, and the users of a
#: ``res.groups`` (on 19 those of implying groups are in ``all_user_ids``).
SALE_LINE_UOM = "product_uom_id" if SERIES >= 19 else "product_uom"
SALE_LINE_TAXES = "tax_ids" if SERIES >= 19 else "tax_id"
GROUP_USERS = "all_user_ids" if SERIES >= 19 else "users"
#: The key of a base line's tax details that holds its unrounded total, taxes included.
TAX_DETAILS_TOTAL = "raw_total_included_currency" if SERIES >= 19 else "total_included_currency"
#: The partner fields a phone number is read from, in order (Odoo 19 dropped ``mobile``).
PARTNER_PHONES = ("phone",) if SERIES >= 19 else ("phone", "mobile")

if SERIES >= 19:
    Constraint = models.Constraint
else:

    class Constraint:
        """Odoo 19's ``models.Constraint`` on Odoo 18, which reads ``_sql_constraints``.

        Declared as ``_<name> = Constraint(definition, message)`` in a model's class body,
        it adds ``(name, definition, message)`` to that class's own ``_sql_constraints``:
        the same constraint, under the same database name, on both series.
        """

        def __init__(self, definition, message=""):
            self.definition = definition
            self.message = message

        def __set_name__(self, owner, name):
            own = owner.__dict__.get("_sql_constraints", [])
            owner._sql_constraints = [*own, (name[1:], self.definition, self.message)]


def partner_title(partner):
    """The partner's title as it is written (``Mrs``), or None: Odoo 19 has no titles."""
    if SERIES >= 19:
        return None
    return partner.title.shortcut or partner.title.name or None


def handle_notification(transactions, provider_code, data):
    """Find the transaction ``data`` names (``transactions`` itself when set) and apply it.

    :return: The transaction.
    :rtype: recordset of `payment.transaction`
    """
    if SERIES >= 19:
        return transactions._process(provider_code, data)
    return transactions._handle_notification_data(provider_code, data)


def capture(tx, amount=None):
    """Capture ``amount`` (the remainder if None) as Odoo's capture button does.

    :return: The capture child of a partial capture, else an empty recordset.
    """
    if SERIES >= 19:
        return tx._capture(amount_to_capture=amount)
    return tx._send_capture_request(amount_to_capture=amount)


def void(tx):
    """Void what is not captured, as Odoo's void button does.

    :return: The void child of a partly captured transaction, else an empty recordset.
    """
    if SERIES >= 19:
        return tx._void()
    return tx._send_void_request()


def refund(tx, amount=None):
    """Refund ``amount`` (the whole payment if None) as Odoo's refund wizard does.

    :return: The refund transaction.
    """
    if SERIES >= 19:
        return tx._refund(amount_to_refund=amount)
    return tx._send_refund_request(amount_to_refund=amount)


def website_cart(request, create=False):
    """The visitor's shopping cart (a sudoed ``sale.order``, empty if none), created when
    ``create`` is set; ``website_sale`` must be installed.
    """
    if SERIES >= 19:
        if not request.cart and create:
            request.cart = request.website._create_cart()
        return request.cart
    return request.website.sale_get_order(force_create=create)


def cart_set_quantity(order, product, quantity):
    """Make ``quantity`` the cart's quantity of ``product`` (added when absent), as the
    cart page does: a second call with the same quantity changes nothing.
    """
    if SERIES >= 19:
        line = order._cart_find_product_line(product.id, uom_id=product.uom_id.id)[:1]
        if line:
            return order._cart_update_line_quantity(line.id, quantity)
        return order._cart_add(product.id, quantity)
    return order._cart_update(product_id=product.id, set_qty=quantity)
