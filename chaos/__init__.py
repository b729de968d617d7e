"""`make chaos`: the real processes under a mixed load of citizens, broken one fault at a time,
and counted at the far end (issue 22). See chaos/README.md."""
