-- One event log for everything the platform streams (an order's tracking, a live room, a group),
-- keyed by what it logs: `log` says which, `key` is the order, room or group id. Each key's `seq`
-- runs 1, 2, 3… without gaps; `json` is the event exactly as a stream sends it.
CREATE TABLE event_log (
    log  TEXT NOT NULL CHECK (log IN ('order', 'room', 'group')),
    key  TEXT NOT NULL,
    seq  INTEGER NOT NULL CHECK (seq > 0),
    json TEXT NOT NULL,
    at   INTEGER NOT NULL,
    PRIMARY KEY (log, key, seq)
) WITHOUT ROWID;

-- People on public pages become structured (`jishi_api::person::Person`) instead of text that the
-- pages parsed back: "尾号 1234" → a shopper by their phone's tail, "主播 X" → the host.
UPDATE live_comments SET author = CASE
    WHEN author LIKE '主播 %' THEN json_object('kind', 'host', 'name', substr(author, 4))
    ELSE json_object('kind', 'shopper', 'last_digits', replace(author, '尾号 ', '')) END
WHERE json_valid(author) = 0;
UPDATE group_members SET name = json_object('kind', 'shopper', 'last_digits', replace(name, '尾号 ', ''))
WHERE json_valid(name) = 0;

INSERT INTO event_log (log, key, seq, json, at)
SELECT 'order', order_id, seq,
       json_object('seq', seq, 'status', status, 'eta_min', eta_min,
           'rider', json(CASE WHEN rider_lat IS NULL THEN 'null'
                         ELSE json_object('lat', rider_lat, 'lng', rider_lng) END),
           'at', strftime('%Y-%m-%dT%H:%M:%SZ', at, 'unixepoch')),
       at
FROM order_events;

INSERT INTO event_log (log, key, seq, json, at)
SELECT 'room', room_id, seq,
       CASE json_extract(json, '$.type')
           WHEN 'comment' THEN json_set(json, '$.comment.author', json(CASE
               WHEN json_extract(json, '$.comment.author') LIKE '主播 %'
                   THEN json_object('kind', 'host', 'name', substr(json_extract(json, '$.comment.author'), 4))
               ELSE json_object('kind', 'shopper',
                   'last_digits', replace(json_extract(json, '$.comment.author'), '尾号 ', '')) END))
           WHEN 'sale' THEN json_set(json, '$.sale.buyer', json(json_object('kind', 'shopper',
               'last_digits', replace(json_extract(json, '$.sale.buyer'), '尾号 ', ''))))
           ELSE json END,
       at
FROM live_events;

INSERT INTO event_log (log, key, seq, json, at)
SELECT 'group', group_id, seq,
       CASE WHEN json_extract(json, '$.type') IN ('member_joined', 'member_paid')
           THEN json_set(json, '$.member.name', json(json_object('kind', 'shopper',
               'last_digits', replace(json_extract(json, '$.member.name'), '尾号 ', ''))))
           ELSE json END,
       at
FROM group_events;

DROP TABLE order_events;
DROP TABLE live_events;
DROP TABLE group_events;

-- A group that forms while its store is closed sends its orders at the store's next opening.
ALTER TABLE buy_groups ADD COLUMN ships_at INTEGER;
