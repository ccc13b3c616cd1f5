"""A payment transaction to Klarna's order payload: Odoo records to the pure mapping's input.

Plain functions, not a model (beside ``utils.py``, the addon's other bridge to ``klarna/``):
they read Odoo records and hand neutral data to ``klarna/``, which owns the wire format and
its amount rules. Decisions:

* The cart comes from the transaction's sales orders, else its invoices, else the transaction
  alone (one ``digital`` line named after its reference, tax 0).
* Amounts are Odoo's own computed ``price_total``/``price_tax`` (invoices:
  ``price_total - price_subtotal``) and the documents' ``amount_total``/``amount_tax``; no tax
  is recomputed from a rate. ``order_amount`` always equals the transaction amount.
* A line's tax-included amount before its discount (Klarna's unit price) is computed by
  Odoo's tax engine on the line's own base line with the discount set to 0, so it carries
  the same taxes and rounding as ``price_total`` instead of dividing by ``1 - discount``.
* When the transaction does not pay exactly its documents' total (a partial or second
  payment, another currency), Klarna gets one line for the amount paid, named after the
  documents, with the documents' tax in proportion: any itemisation would not add up.
* Kinds: delivery lines are ``shipping_fee``; down payments ``down_payment``; loyalty reward
  lines ``gift_card`` (gift card programs), ``store_credit`` (e-wallets) or ``discount``; any
  other negative line ``discount``; services ``digital``; other products ``physical``. Odoo
  18 has no payment-fee concept, so ``surcharge`` is never sent: fee products are services.
* The billing party is the transaction's partner (Odoo sets it to the invoice address); the
  shipping party the document's delivery address, borrowing the billing name, email and
  phone when the delivery contact has none. A contact of a company buys as an organization.
* Every mapping problem (addresses, amounts, market) is gathered into one ``UserError``
  before anything reaches Klarna; its text names fields and lines, never personal values.
"""

import functools
from decimal import Decimal

from odoo.exceptions import UserError

from . import compat, const
from .klarna.address import PartyData, build_addresses
from .klarna.locale import klarna_locale, market
from .klarna.mapping_errors import KlarnaMappingError
from .klarna.money import from_minor, to_decimal, to_minor
from .klarna.order_lines import DECIMALS, MERCHANT_REFERENCE_MAX, CartLine, build_order_amounts


def order_payload(tx):
    """Klarna's order (session) payload for ``tx``, without ``merchant_urls``.

    :raise UserError: listing every problem Klarna would reject, before any call to it.
    """
    country = _purchase_country(tx)
    payload, problems = _cart(tx, country, tx.partner_id.lang)
    try:
        payload.update(_addresses(tx, _documents(tx), country))
    except KlarnaMappingError as error:
        problems.extend(error.problems)
    if problems:
        raise _refusal(tx.env, problems)
    payload["merchant_reference1"] = tx.reference
    if documents := _documents(tx):
        payload["merchant_reference2"] = _names(documents)[:MERCHANT_REFERENCE_MAX]
    return payload


def cart_payload(tx, country, lang):
    """Klarna's cart for ``tx`` bought from ``country``, without any party: what Klarna
    Express Checkout authorizes before Klarna collected the shopper's address.

    :param tx: a transaction, a draft one (``new``) will do
    :param str country: the purchase country's code
    :param str lang: the shopper's Odoo language code, for Klarna's locale
    :raise UserError: listing every problem Klarna would reject, before any call to it.
    """
    payload, problems = _cart(tx, country, lang)
    if problems:
        raise _refusal(tx.env, problems)
    return payload


def _cart(tx, country, lang):
    """The market, the amounts and the lines: ``(payload, problems)``."""
    currency = tx.currency_id.name
    payload = {"purchase_country": country, "purchase_currency": currency}
    problems = []
    try:
        expected_currency = market(country).currency
    except KlarnaMappingError as error:
        problems.extend(error.problems)
    else:
        payload["locale"] = klarna_locale(lang, country)
        if currency != expected_currency:
            problems.append(
                f"Klarna accepts {expected_currency}, not {currency}, for purchases from {country}"
            )
    try:
        payload.update(_order_amounts(tx, _documents(tx), country))
    except KlarnaMappingError as error:
        problems.extend(error.problems)
    return payload, problems


def amount_lines(tx, amount_minor, lines=None, document=None):
    """``order_amount``, ``order_tax_amount`` and ``order_lines`` for a partial capture or refund.

    The given ``sale.order.line`` or ``account.move.line`` records when they add up to
    ``amount_minor``, else one line for the amount with the documents' proportional tax.
    When the lines are the whole ``document`` (an order, an invoice, a credit note), its
    totals are met as the order payload meets them: Odoo may round taxes globally (the
    default on Odoo 19), and the lines' own totals are then a rounding difference off.

    :raise UserError: when the amount or the lines cannot be sent to Klarna.
    """
    options = _amount_options(tx, _purchase_country(tx))
    totals = (
        {"expected_total": document.amount_total, "expected_tax": document.amount_tax}
        if document
        else {}
    )
    try:
        if lines:
            amounts = build_order_amounts(_cart_lines(tx, lines), **totals, **options)
            if amounts["order_amount"] == amount_minor:
                return amounts
        amount = from_minor(amount_minor, DECIMALS)
        share = _share_line(tx, _documents(tx), amount)
        return build_order_amounts([share], expected_total=amount, **options)
    except KlarnaMappingError as error:
        raise _refusal(tx.env, error.problems) from None


def _refusal(env, problems):
    return UserError(
        env._(
            "Klarna: the order cannot be sent to Klarna: %(problems)s. Correct this and try "
            "again, or choose another payment method.",
            problems="; ".join(problems),
        )
    )


def _purchase_country(tx):
    return (tx.partner_id.country_id or tx.company_id.country_id).code or ""


def _documents(tx):
    """The sales orders the transaction pays, else its invoices (possibly none).

    The saved documents (``_origin``) even for an unsaved transaction (the widget's session
    maps the cart of a ``new()`` one): through a new record they are new copies whose every
    line recomputes its amounts, several times the cost of reading them.
    """
    return (tx.sale_order_ids or tx.invoice_ids)._origin


def _names(documents):
    return ", ".join(documents.mapped("name"))


def _total(documents, field):
    return sum((to_decimal(amount) for amount in documents.mapped(field)), Decimal(0))


def _amount_options(tx, country):
    return {
        "decimals": DECIMALS,
        "us_sales_tax": country == "US",
        "sales_tax_name": tx.env._("Sales Tax"),
    }


def _order_amounts(tx, documents, country):
    options = _amount_options(tx, country)
    amount = to_decimal(tx.amount)
    total = _total(documents, "amount_total")
    if (
        documents
        and documents.mapped("currency_id") == tx.currency_id
        and to_minor(amount, DECIMALS) == to_minor(total, DECIMALS)
    ):
        lines = _cart_lines(tx, document_lines(documents))
        tax = _total(documents, "amount_tax")
        return build_order_amounts(lines, expected_total=amount, expected_tax=tax, **options)
    share = _share_line(tx, documents, amount)
    return build_order_amounts([share], expected_total=amount, **options)


def _share_line(tx, documents, amount):
    """One line for ``amount`` of the documents, taxed in the documents' proportion."""
    if not documents:
        return CartLine("digital", tx.reference, 1, amount, 0)
    total = _total(documents, "amount_total")
    tax = amount * _total(documents, "amount_tax") / total if total else 0
    names = _names(documents)
    if to_minor(amount, DECIMALS) < to_minor(total, DECIMALS):
        name = tx.env._("Payment for %(documents)s (partial)", documents=names)
    else:
        name = tx.env._("Payment for %(documents)s", documents=names)
    kinds = {line.kind for line in _cart_lines(tx, document_lines(documents))}
    kind = "physical" if "physical" in kinds else "digital"
    return CartLine(kind, name, 1, amount, tax, reference=documents[:1].name)


def document_lines(documents):
    """The lines of sales orders or invoices (a document's own lines, not its journal items)."""
    if documents._name == "sale.order":
        return documents.order_line
    return documents.invoice_line_ids


def payable_lines(lines):
    """The sale order or invoice lines that are goods, fees or discounts: sections, notes and
    lines of no quantity are left out."""
    if lines._name == "sale.order.line":
        return lines.filtered(lambda line: not line.display_type and line.product_uom_qty)
    return lines.filtered(lambda line: line.display_type == "product" and line.quantity)


def _cart_lines(tx, lines):
    """Neutral cart lines for the :func:`payable_lines` of sale order or invoice lines."""
    lang = tx.partner_id.lang or tx.env.lang
    base_url = (_documents(tx)[:1] or tx).get_base_url()
    # One context for all lines (names in the customer's language), one rate per tax set.
    lines = payable_lines(lines).with_context(lang=lang)
    tax_percent = functools.cache(_tax_percent)
    if lines._name == "sale.order.line":
        return [
            _cart_line(
                line,
                base_url,
                quantity=line.product_uom_qty,
                total=to_decimal(line.price_total),
                tax=to_decimal(line.price_tax),
                unit=line[compat.SALE_LINE_UOM].name,
                tax_percent=tax_percent(line[compat.SALE_LINE_TAXES]),
                sale_line=line,
            )
            for line in lines
        ]
    sale_lines = lines.sale_line_ids
    return [
        _cart_line(
            line,
            base_url,
            quantity=line.quantity,
            total=to_decimal(line.price_total),
            tax=to_decimal(line.price_total) - to_decimal(line.price_subtotal),
            unit=line.product_uom_id.name,
            tax_percent=tax_percent(line.tax_ids),
            # A slice prefetches itself alone: read the sale lines of all lines at once.
            sale_line=line.sale_line_ids[:1].with_prefetch(sale_lines._prefetch_ids),
        )
        for line in lines
    ]


def _cart_line(line, base_url, *, quantity, total, tax, unit, tax_percent, sale_line):
    product = line.product_id.with_context(display_default_code=False)
    kind = _kind(line, sale_line, total)
    is_item = kind in ("physical", "digital")
    description = (line.name or "").split("\n")[0].strip()
    name = product.display_name if is_item and product else description or product.display_name
    has_website_page = is_item and product and "website_url" in product._fields
    return CartLine(
        kind=kind,
        name=name or "",
        quantity=abs(to_decimal(quantity)),
        total=total,
        tax=tax,
        gross=_undiscounted_total(line) if line.discount and total > 0 else None,
        reference=(product.default_code or str(product.id)) if product else None,
        unit_name=unit or None,
        # The shop's own URL: Odoo 19 slugs the display name, default code included.
        product_url=base_url + line.product_id.website_url if has_website_page else None,
        image_url=(
            f"{base_url}/web/image/product.product/{product.id}/image_1024"
            if has_website_page and product.image_128
            else None
        ),
        tax_percent=tax_percent,
    )


def _kind(line, sale_line, total):
    if line.is_downpayment:
        return "down_payment"
    if sale_line and "is_delivery" in sale_line._fields and sale_line.is_delivery:
        return "shipping_fee"
    if sale_line and "reward_id" in sale_line._fields and sale_line.reward_id:
        return const.REWARD_KINDS.get(sale_line.reward_id.program_id.program_type, "discount")
    if total < 0:
        return "discount"
    return "digital" if line.product_id.type == "service" else "physical"


def _undiscounted_total(line):
    """The line's tax-included amount without its discount, by Odoo's own tax engine."""
    if line._name == "sale.order.line":
        base_line = line._prepare_base_line_for_taxes_computation(discount=0.0)
    else:
        base_line = line.move_id._prepare_product_base_line_for_taxes_computation(line)
        base_line["discount"] = 0.0
    line.env["account.tax"]._add_tax_details_in_base_line(base_line, line.company_id)
    return to_decimal(base_line["tax_details"][compat.TAX_DETAILS_TOTAL])


def _tax_percent(taxes):
    """The nominal combined rate of percent taxes, a display hint the pure layer may use."""
    flat = taxes.flatten_taxes_hierarchy()
    if not all(tax.amount_type == "percent" for tax in flat):
        return None
    return sum((to_decimal(tax.amount) for tax in flat), Decimal(0))


def _addresses(tx, documents, country):
    billing = tx.partner_id
    shipping = documents[:1].partner_shipping_id
    return build_addresses(
        _party(billing, country),
        _party(shipping, country, billing) if shipping else None,
    )


def _party(partner, country, fallback=None):
    """PartyData of a contact; missing name, email and phone come from ``fallback``."""
    fallback = fallback or partner.browse()
    commercial = partner.commercial_partner_id
    company = commercial if commercial.is_company else partner.browse()
    return PartyData(
        name=partner.name or fallback.name or None,
        email=partner.email or fallback.email or None,
        street=partner.street or None,
        street2=partner.street2 or None,
        postal_code=partner.zip or None,
        city=partner.city or None,
        country_code=partner.country_id.code or country or None,
        state_code=partner.state_id.code or None,
        phone=next(
            (
                who[field]
                for who in (partner, fallback)
                for field in compat.PARTNER_PHONES
                if who[field]
            ),
            None,
        ),
        title=compat.partner_title(partner),
        organization_name=company.name or None,
        registration_id=company.vat or company.company_registry or None,
    )
