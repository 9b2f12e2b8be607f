"""Seal or open a JWE with jwcrypto: an independent implementation for the interop tests.

    jwe.py open KEY.jwk      < JWE       -> the document
    jwe.py seal PUBLIC.jwk   < DOCUMENT  -> a JWE (ECDH-ES, A256GCM)
"""
import json
import sys

from jwcrypto import jwe, jwk


def main() -> None:
    action, key_path = sys.argv[1], sys.argv[2]
    with open(key_path, encoding="utf-8") as f:
        key = jwk.JWK(**json.load(f))
    data = sys.stdin.buffer.read()
    if action == "open":
        token = jwe.JWE()
        token.deserialize(data.decode().strip(), key=key)
        sys.stdout.buffer.write(token.payload)
    elif action == "seal":
        header = {"alg": "ECDH-ES", "enc": "A256GCM", "cty": "application/json"}
        token = jwe.JWE(data, protected=json.dumps(header))
        token.add_recipient(key)
        sys.stdout.write(token.serialize(compact=True))
    else:
        sys.exit(f"unknown action {action}")


if __name__ == "__main__":
    main()
