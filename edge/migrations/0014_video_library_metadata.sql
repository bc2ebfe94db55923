-- Recording and clip videos (issue 13) have no VideoObject: the title and metadata set on them through PATCH
-- /v1/videos/{id} live on their library row (JSON of the metadata; NULL = none set).
ALTER TABLE videos ADD COLUMN metadata TEXT;
