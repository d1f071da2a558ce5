"""camsctl: a declarative reconciler for the WhatsApp phone numbers of Alibaba Cloud CAMS."""

__version__ = "0.1.0"
