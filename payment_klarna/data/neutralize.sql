-- A neutralized copy of a production database must never reach Klarna with live credentials.
UPDATE payment_provider
   SET klarna_api_password_encrypted = NULL,
       klarna_base_url = NULL
 WHERE code = 'klarna';
DELETE FROM payment_klarna_signing_key;
