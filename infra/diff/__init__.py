"""`make diff`: what a change does to every stack's offline render, for review.

    uv run --frozen python -m infra.diff [--base REF] [--stack S ...] [--format markdown|json]

renders each stack at the base (default: the merge base of HEAD with main) and at the working
tree, and reports objects added, removed and changed with field-level paths, Helm releases'
chart versions and values, and other Pulumi resources. No cluster, Pulumi CLI or credentials;
secret values are never shown (Secret data and credential-named keys show only "changed").
"""
