"""Members and what they may read: member records, entitlements with their audit trail,
magic-link sign-in and sessions, CSV import and export."""
