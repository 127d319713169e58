"""Kirana credit: WhatsApp ordering and retailer credit operations."""
