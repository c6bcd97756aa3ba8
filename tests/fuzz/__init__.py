"""Mutation fuzzing of insgan's file readers and command line (see mutations.py and campaign.py)."""
