-- Tags split once, when a card is written: GSL's `tag_names` is free text in which users separate tags with
-- commas, full-width commas, semicolons (both widths), enumeration commas, bars or line breaks. Metrics,
-- alert overrides and reports all read this column, so they agree on what a card's tags are.
-- Must match gsl_domain::split_tags; a store test compares the two on every separator.
ALTER TABLE sim_cards ADD COLUMN tags text[] NOT NULL GENERATED ALWAYS AS (
    CASE
        WHEN btrim(coalesce(tag_names, ''), E' \t\r\n,，;；、|') = '' THEN '{}'::text[]
        ELSE regexp_split_to_array(
            btrim(tag_names, E' \t\r\n,，;；、|'),
            E'(\\s*[,，;；、|\\n\\r\\t]\\s*)+')
    END
) STORED;
