-- Reconciliation looks borrowers up by document (a receipt's payee, a document's facts); without an
-- index each lookup read the whole table.
create index credit_customer_document_idx on credit_customer (document);
