-- What `kasirgo import-django` brought over from a KasirGo Django database:
-- one row per Django row it imported (or, for a user, matched by username),
-- written in the import's own transaction. A second run skips every Django
-- row found here, so nothing is imported twice; and a row of ours that only
-- happens to hold the same integer id (made here before the import) is
-- never taken for an imported one.
CREATE TABLE django_imports (
    kind        text NOT NULL
                CHECK (kind IN ('user', 'category', 'product', 'sale',
                                'placeholder_user', 'placeholder_product')),
    -- The Django primary key as text (a uuid for users, a bigint for the
    -- rest); for placeholders, what they stand for (`no-cashier`, or the
    -- product name a deleted product was sold under).
    django_id   text NOT NULL,
    -- The row of ours: users.id, categories.id, products.id or sales.id.
    target_id   uuid NOT NULL,
    -- The Django cafe the row came from (NULL before the cafes era).
    cafe_id     bigint,
    -- now() of the import's transaction: one value per run.
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, django_id)
);
CREATE INDEX django_imports_run ON django_imports (imported_at, kind);
