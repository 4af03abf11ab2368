# METADATA
# title: no secret literals
# description: |-
#   Secrets never live in the customers repository: it is read by every operator,
#   every CI run and every fork. A tunnel pre-shared key is a reference to an AWS
#   Secrets Manager secret (its name or ARN) whose JSON keys tunnel1 and tunnel2
#   hold the keys; the CloudFormation templates resolve it at deploy time. A key
#   written as a string is refused (and the compiler does not keep it), as is a
#   reference that is neither a secret name nor a Secrets Manager ARN.
# custom:
#   hint: >-
#     store the keys in Secrets Manager and write preSharedKey: secretsManager: "vsoc/<customer>/vpn-psk";
#     rotate a key that was committed
package vsoc.rules.vsoc013

import data.vsoc.lib

violation contains v if {
	input.customer.vpn.preSharedKey.literal
	v := {
		"path": ["vpn", "preSharedKey"],
		"message": "the pre-shared key is written as a literal: secrets belong in Secrets Manager, not in the repository",
	}
}

violation contains v if {
	ref := input.customer.vpn.preSharedKey.secretsManager
	not secret_name(ref)
	not secret_arn(ref)
	v := {
		"path": ["vpn", "preSharedKey", "secretsManager"],
		# The value is not echoed: it may well be the key itself.
		"message": "the secretsManager reference is neither a secret name nor a Secrets Manager ARN (the value is not shown: it may be a key)",
		"hint": "write the secret's name (letters, digits and /_+=.@-) or its ARN arn:aws:secretsmanager:<region>:<account>:secret:<name>",
	}
}

secret_name(s) if regex.match(`^[A-Za-z0-9/_+=.@-]{1,512}$`, s)

secret_arn(s) if regex.match(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$`, s)
