"""The bottom floor of stbass: parking, channels, ALT, timers and the instrument hook.

Nothing here imports from the floors above (processes and compositions in
``stbass._compose``, integrations, testing, ``stbass.observe``); a test checks it.
"""
