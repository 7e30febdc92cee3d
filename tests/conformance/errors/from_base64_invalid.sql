-- FROM_BASE64 of text that is not base64 fails, as in Flink.
SELECT FROM_BASE64('not base64!') AS f;
