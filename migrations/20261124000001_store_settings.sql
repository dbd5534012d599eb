-- Store-wide settings: exactly one row.
CREATE TABLE store_settings (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    store_name     text NOT NULL DEFAULT 'KasirGo Store'
                   CHECK (char_length(store_name) BETWEEN 1 AND 200),
    timezone       text NOT NULL DEFAULT 'Asia/Jakarta',
    currency       text NOT NULL DEFAULT 'IDR' CHECK (currency ~ '^[A-Z]{3}$'),
    tax_rate       numeric(6, 4) NOT NULL DEFAULT 0 CHECK (tax_rate >= 0 AND tax_rate <= 1),
    receipt_footer text NOT NULL DEFAULT '' CHECK (char_length(receipt_footer) <= 500),
    version        integer NOT NULL DEFAULT 1,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

INSERT INTO store_settings DEFAULT VALUES;
