"""Scripts the platform ships into its Jobs (ConfigMaps): standalone, stdlib and the image only."""
