-- proactiveMessages: the audit record, written before anything is announced.
INSERT INTO agent_messages (cafe_id, message_type, content, context_data, created_at)
VALUES (%(cafe_id)s, 'PROACTIVE', %(content)s, %(context_data)s, %(created_at)s)
RETURNING id
