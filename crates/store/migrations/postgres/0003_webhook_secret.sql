ALTER TABLE connections ADD COLUMN webhook_secret_enc TEXT;
