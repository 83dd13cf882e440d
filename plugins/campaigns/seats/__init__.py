"""Seats: agents working progressive and predictive campaigns (ADR 0040).

An agent takes a seat in a campaign; the platform rings them once and keeps their leg in the
seat's conference between calls. A person who answers one of the campaign's calls is put
into the conference of the longest-waiting ready seat in the answer's own webhook turn, or,
with no seat ready, hears the campaign's safe-harbour message and the call is an abandon.
"""
