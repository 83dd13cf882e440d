"""ISO 4217 currencies (active codes) and their minor units."""

from __future__ import annotations

_ACTIVE = """
aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob bov brl bsd btn bwp
byn bzd cad cdf che chf chw clf clp cny cop cou crc cuc cup cve czk djf dkk dop dzd egp ern etb
eur fjd fkp gbp gel ghs gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr iqd irr isk jmd jod jpy
kes kgs khr kmf kpw krw kwd kyd kzt lak lbp lkr lrd lsl lyd mad mdl mga mkd mmk mnt mop mru mur
mvr mwk mxn mxv myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub
rwf sar sbd scr sdg sek sgd shp sle sll sos srd ssp stn svc syp szl thb tjs tmt tnd top try ttd
twd tzs uah ugx usd usn uyi uyu uyw uzs ved ves vnd vuv wst xaf xcd xcg xof xpf yer zar zmw zwg
zwl
"""
_ZERO_DECIMAL = "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf"
_THREE_DECIMAL = "bhd iqd jod kwd lyd omr tnd"

CODES = frozenset(_ACTIVE.split())
"""Lower case, as Stripe writes them. Funds and precious metals (``xau``, ``xdr``) are not
money a caller pays with and are left out."""
ZERO_DECIMAL = frozenset(_ZERO_DECIMAL.split())
THREE_DECIMAL = frozenset(_THREE_DECIMAL.split())


def normalize(code: str) -> str | None:
    """The lower-case ISO 4217 code, or None when ``code`` is not one."""
    lowered = code.strip().lower()
    return lowered if lowered in CODES else None


def minor_digits(code: str) -> int:
    if code in ZERO_DECIMAL:
        return 0
    return 3 if code in THREE_DECIMAL else 2


def major(amount: int, code: str) -> str:
    """``1550`` EUR as ``15.50`` (for CSV and people)."""
    digits = minor_digits(code)
    if digits == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d}"
