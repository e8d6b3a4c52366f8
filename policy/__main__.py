"""Entry point the Pulumi CLI runs for `pulumi preview --policy-pack policy`."""

from pulumi_policy import PolicyPack

from policy.crossguard import PACK_NAME, build_policies

if __name__ == "__main__":
    # PolicyPack starts a gRPC server and blocks: only ever under the engine.
    PolicyPack(name=PACK_NAME, policies=build_policies())
