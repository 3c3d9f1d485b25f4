"""The product families the coordinator ships with, one YAML file per family (a package so that
the *.yaml package data ships; ``orders.families_dir`` points elsewhere for a network's own)."""
