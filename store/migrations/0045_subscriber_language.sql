-- The language a subscriber chose on the page (a code of page.languages,
-- '' when unknown): the links in its mail open the pages in it.
ALTER TABLE subscribers ADD COLUMN language TEXT NOT NULL DEFAULT '';
