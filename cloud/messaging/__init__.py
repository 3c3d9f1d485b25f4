"""The coordinator's messaging core: the one MQTT client module (:mod:`.mqtt`), the sequence
numbers of what the coordinator sends, the transactional outbox every outbound message goes
through (:mod:`.outbox`, delivered by :mod:`.delivery`), and the hooks by which domains react
to what the ingest applied (:mod:`.hooks`). It knows no domain: ingest, dispatch and
maintenance use it, never the other way round."""
