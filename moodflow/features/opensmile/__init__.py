"""openSMILE feature sets in one pass per signal (``smile``): ComParE_2016 and eGeMAPSv02."""
