"""The verbs' machinery, knowing no verb: the Verb record, rendering, how changes are carried out."""
