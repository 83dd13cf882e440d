"""Part of the contacts plugin (private: import through ``plugins.contacts``)."""
