ALTER TABLE connections ADD COLUMN auth_kind TEXT NOT NULL DEFAULT 'oauth';
